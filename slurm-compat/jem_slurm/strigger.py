"""strigger: not offered by JEM; says so in Slurm's manner (jem_slurm.unoffered)."""

import sys

from jem_slurm import unoffered

main = unoffered.command("strigger")

if __name__ == "__main__":
    sys.exit(main())
