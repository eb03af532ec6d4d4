"""The evaluation chain's library: embedders, trajectory vectors, clusters.

The dbt Python models under models/evaluation/ are thin calls into this
package; everything they compute is here, typed and tested on its own.
"""
