"""Training presets shipped with mgfast, one TOML file per modality (see :mod:`mgfast.train.config`)."""
