"""Local mode: groundcrew's SAM app run offline on moto (never packaged into a Lambda)."""
