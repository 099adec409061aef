"""The local provider's engines: plain Python over eSpeak NG and faster-whisper, no gateway types.

They run inside pool worker processes (`..worker`), never on the gateway's event loop.
"""
