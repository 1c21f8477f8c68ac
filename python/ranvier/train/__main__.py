import sys

from ranvier.train.cli import main

sys.exit(main())
