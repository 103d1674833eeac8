"""Zoph & Le's CNN space (NAS-RL, 2017): the space, its torch network (module.py) and its drawing.

The package holds what is specific to the space (its hooks: ``archsearch.spaces.hooks``); importing it
loads no torch."""

from archsearch.spaces.nasrl_cnn.layers import CLASSIFIER, IMAGE, ConvLayer, data_flow
from archsearch.spaces.nasrl_cnn.space import (
    FILTER_H,
    FILTER_W,
    NUM_FILTERS,
    PAPER_FILTER_HEIGHTS,
    PAPER_FILTER_WIDTHS,
    PAPER_NUM_FILTERS,
    PAPER_NUM_LAYERS,
    PAPER_STRIDES,
    STRIDE_H,
    STRIDE_TOKENS,
    STRIDE_W,
    TOKENS,
    NasRLCNNSpace,
)

__all__ = [
    "CLASSIFIER",
    "IMAGE",
    "data_flow",
    "ConvLayer",
    "FILTER_H",
    "FILTER_W",
    "NUM_FILTERS",
    "NasRLCNNSpace",
    "PAPER_FILTER_HEIGHTS",
    "PAPER_FILTER_WIDTHS",
    "PAPER_NUM_FILTERS",
    "PAPER_NUM_LAYERS",
    "PAPER_STRIDES",
    "STRIDE_H",
    "STRIDE_TOKENS",
    "STRIDE_W",
    "TOKENS",
]
