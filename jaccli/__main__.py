"""``python -m jaccli``: the same program as the ``jaccli`` command."""
from jaccli.cli import main

if __name__ == "__main__":
    main()
