"""Classification models by name: ``build_model("resnet20")``; weights via ``load_weights``."""

from hfc_classify.models import (  # noqa: F401  (each module registers its models)
    alexnet,
    cifar_resnet,
    lenet,
    released_resnet,
    resnet18,
    vgg,
)
from hfc_classify.models.checkpoint import load_weights, read_state_dict
from hfc_classify.models.registry import build_model, list_models, register_model

__all__ = ["build_model", "list_models", "load_weights", "read_state_dict", "register_model"]
