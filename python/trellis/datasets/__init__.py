"""Training datasets: de-identification, frozen snapshots, exports, retention."""
