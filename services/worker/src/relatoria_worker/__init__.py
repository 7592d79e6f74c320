"""relatoria's worker: claims report requests, renders them, stores the files."""
