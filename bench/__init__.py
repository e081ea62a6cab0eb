"""OpenRCM benchmarks: `python -m bench` (or `./openrcm bench`); see docs/benchmarks.md.

intake   POST /v1/encounters on the claims service, open loop at fixed offered rates and closed
         loop at the maximum, with end-to-end latency to the remittance service's projection.

Each benchmark starts its own stack on BENCH_PORTS under .local/bench and stops it at the end.
"""
