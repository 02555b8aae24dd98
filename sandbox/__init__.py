"""Local stand-ins for AWS and the payment gateway, for `make demo`, `make serve` and the tests.

Nothing here is deployed: `src/` is the function, this package only runs it.
"""
