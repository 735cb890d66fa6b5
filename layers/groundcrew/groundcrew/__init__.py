"""groundcrew: turn files dropped under an S3 prefix into reviewed, training-ready labels.

Pure, typed building blocks shared by every Lambda of the stack (deployed as a Lambda layer).
"""

__version__ = "0.1.0"
