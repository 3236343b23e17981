"""Next-fulfilment-step prediction (features, training, evaluation)."""
