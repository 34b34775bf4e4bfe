"""Operations: the process supervisor, the whole-stack launcher, health and metrics."""
