"""Classification models by name: ``build_model("resnet20")``; weights via ``load_weights``."""

from hfc_classify.models import cifar_resnet  # noqa: F401  (registers resnet20..56)
from hfc_classify.models.checkpoint import load_weights, read_state_dict
from hfc_classify.models.registry import build_model, list_models, register_model

__all__ = ["build_model", "list_models", "load_weights", "read_state_dict", "register_model"]
