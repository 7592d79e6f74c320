"""The report domain: states, formats, error codes and report types. No I/O lives here."""
