"""Names of the files in a run folder (``runs/<run_id>/``) and a job folder (``jobs/<job_id>/``)."""
from __future__ import annotations

#: The best model of a finished run (saved at the best validation epoch).
MODEL_FILE = "model.keras"
#: The model at the end of the last completed epoch, to resume from.
CHECKPOINT_FILE = "checkpoint.keras"
#: Stochastic weight averaging (``train.swa_epochs``): the running mean of the weights, to resume.
SWA_FILE = "swa.npz"
#: The SWA average with its recomputed batch-norm statistics (also ``model.keras`` if it validated best).
SWA_MODEL_FILE = "swa.keras"
#: A distilled run's teacher probabilities on its train images, kept for its next sessions.
TEACHER_FILE = "teacher.npz"
#: Training state beside the checkpoint: epoch, best score, history, optimiser schedule.
STATE_FILE = "state.json"
#: Scores of the best model on the evaluation split.
METRICS_FILE = "metrics.json"
#: Per-image probabilities, labels, classes and sources on the evaluation split.
PREDICTIONS_FILE = "predictions.npz"
#: One entry of losses and scores per epoch.
HISTORY_FILE = "history.json"
#: The run's training configuration.
CONFIG_FILE = "config.toml"
#: A job's record: status, pid, error, parameters.
JOB_FILE = "job.json"
#: A job's latest progress event.
PROGRESS_FILE = "progress.json"
#: Flag file in a job folder: stop when the epoch under way ends (``jobs cancel --at-epoch-end``)
STOP_FLAG = "stop_after_epoch"
