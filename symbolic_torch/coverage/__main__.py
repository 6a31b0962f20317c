"""``python -m symbolic_torch.coverage``: run the OpInfo sweep (see ``symbolic_torch.coverage.sweep``)."""
from symbolic_torch.coverage.sweep import main

raise SystemExit(main())
