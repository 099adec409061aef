"""Operations: Prometheus metrics, OpenTelemetry traces, and the listener that serves metrics alone.

Import the modules themselves (`observability.telemetry`, `.metrics`, `.tracing`, `.propagation`):
`propagation` is used by the provider transport, below everything else, so this package imports nothing.
"""

__all__: list[str] = []
