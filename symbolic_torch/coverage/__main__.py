"""``python -m symbolic_torch.coverage``: run the OpInfo sweep (see ``symbolic_torch.coverage.opinfo``)."""
from symbolic_torch.coverage.opinfo import main

raise SystemExit(main())
