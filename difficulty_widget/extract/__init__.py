"""Run a torch model over a dataset once (logits, labels, probe embeddings) and train the small models."""

from .extraction import Extraction, extract, iter_batches, pick_device
from .input_gradients import input_gradients
from .models import SmallCNN, SmallMLP, make_model
from .plan import ExtractionPlan, plan_extraction
from .probes import ProbeSpec, reduce_embedding
from .recorder import DynamicsRecorder
from .train import TrainingResult, train_model, train_small_model

__all__ = [
    "DynamicsRecorder",
    "Extraction",
    "ExtractionPlan",
    "ProbeSpec",
    "SmallCNN",
    "SmallMLP",
    "TrainingResult",
    "extract",
    "input_gradients",
    "iter_batches",
    "make_model",
    "pick_device",
    "plan_extraction",
    "reduce_embedding",
    "train_model",
    "train_small_model",
]
