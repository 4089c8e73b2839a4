"""Hand-written neural instruments: untrained networks with frozen random weights, for nn~ / nn.ar."""
