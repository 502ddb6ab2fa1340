"""``python -m jaccli``: the same program as the ``jaccli`` command."""
from .cli import main

if __name__ == "__main__":
    main()
