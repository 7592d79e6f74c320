"""relatoria's demo reporting dataset: what `make demo-data` loads into schema `demo`.

`relatoria_demo_data.seed.seed()` is the importable entry point (tests and benchmarks seed
databases they own); `relatoria-demo-data` is the command-line one.
"""
