"""Embedded local AWS: deploy the real Pulumi program into moto and run the real handler.

``python -m localaws up|down|status|redrive|faults`` (``make up`` / ``make down``). The program
and its components never import this package.
"""
