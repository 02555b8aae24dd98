"""Commands for operators, run by make against the local stack of `make serve` or a deployed stack."""
