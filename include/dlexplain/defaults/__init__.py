"""Build the embedded default model and demo data from registry packages (no Hub, no network
beyond the package index)."""

from dlexplain.defaults.data import build_default_data
from dlexplain.defaults.imdb import load_reviews
from dlexplain.defaults.model import DEFAULT_RECIPE, Recipe, build_default_model, default_model_dir

__all__ = [
    "DEFAULT_RECIPE",
    "Recipe",
    "build_default_data",
    "build_default_model",
    "default_model_dir",
    "load_reviews",
]
