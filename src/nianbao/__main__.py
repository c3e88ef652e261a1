"""`python3 -m nianbao ...`: the same as the `nianbao` script, whatever is on PATH."""

from .cli import main

main()
