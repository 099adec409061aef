// Preloaded (`node --require`) into Portkey's gateway for the benchmark: its start-server.js has no
// host option and @hono/node-server listens on every interface when given none; this makes a listen
// on a bare port bind 127.0.0.1, like every other server the benchmark starts.
"use strict";
const net = require("node:net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, host, ...rest) {
  if (typeof port === "number" && (host === undefined || typeof host === "function")) {
    return listen.call(this, port, "127.0.0.1", ...(typeof host === "function" ? [host, ...rest] : rest));
  }
  return listen.call(this, port, host, ...rest);
};
