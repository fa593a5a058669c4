"""Training, laid out like a run:

- `run.py`: `train(config)`: the guards, the set-up resolved into a `RunPlan`, the loop;
- `setup.py`: the model's config, its input and the data, consistent, and the checks that
  refuse a run before it wastes any time;
- `loop.py`: phases, epochs and steps;
- `state.py`: what last.pt keeps (`TrainState.save` / `restore`);
- `judge.py`: validation, and whether the trained or the starting weights are handed back;
- `budget.py`: the clock and the time budget (probe, plan, re-plan);
- `optim.py`: the optimizer and the learning-rate schedule.

The augmentation policy is `augment.augmentation_for`; the run folder's files other than
checkpoints are written by `runfolder.py`.
"""

from ..config import TrainConfig
from .judge import keeps_start, validate
from .loop import TrainResult
from .run import train

__all__ = ["TrainConfig", "TrainResult", "keeps_start", "train", "validate"]
