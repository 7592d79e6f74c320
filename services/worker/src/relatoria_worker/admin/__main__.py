"""`python -m relatoria_worker.admin`: the same as `relatoria-admin`."""

from relatoria_worker.admin.cli import main

main()
