"""Fine-tuning, evaluation, calibration, thresholds and gated retraining. Imports `model`, never `serving`."""
