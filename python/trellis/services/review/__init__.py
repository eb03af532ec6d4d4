"""Human review: export the sample queue for a labelling tool, import the labels back."""
