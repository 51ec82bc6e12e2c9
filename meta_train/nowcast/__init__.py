"""NiNo's training job: Adam trajectories in, a trained nowcaster out.

    python -m meta_train.nowcast --config=configs/nino.py --workdir=runs/nino

__main__.py       the command line (flags; bad input exits with status 2)
train.py          the program: set-up, the step, held-out errors, the loop (`meta_train.loop`)
trajectories.py   Adam trajectories of zoo tasks as .npz snapshots (the format in its docstring)
"""
