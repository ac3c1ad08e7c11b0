"""`python -m cli`: the taskstream command line."""

from cli.main import main

raise SystemExit(main())
