"""The workflows and consensus rules groundcrew knows (a light module: Lambdas on the task path import it)."""

from enum import StrEnum


class Workflow(StrEnum):
    IMAGE_CLASSIFICATION = "image-classification"


class ConsensusRule(StrEnum):
    MAJORITY = "majority"
