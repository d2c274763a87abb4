"""The training module of despin: spinner, corpora, pairs, training and evaluation."""
