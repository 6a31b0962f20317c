"""The custom ``autograd.Function`` checker: symbolic tensors, derived vs. your backward, proof and sampling."""
