"""Cross-camera identity linking and attributes with a real annotation server (Label Studio).

Modules, one idea each:

- ``settings``: the ``[annotate]`` section of ``grewkit.toml``;
- ``server``: start and stop a local Label Studio from its own virtual environment;
- ``backends``: the annotation-backend interface (``base``) and the Label Studio backend
  (``labelstudio``, through the official label-studio-sdk);
- ``campaign``: the steps of a campaign (candidates, push, pull, status) that the commands call;
- ``runs``: keyed, resumable annotation runs (campaigns) recorded in the project;
- ``config``: the labelling config rendered from ``annotation/identity_link.xml``;
- ``media``: annotator media (face-masked frame strips) per tracklet;
- ``faces``: face masking of every image shown to annotators;
- ``candidates``: label-free ranking of cross-camera candidates behind an embedder registry;
- ``tasks``: tasks and predictions built from the candidates;
- ``resolve``: union-find identities, contradictions held out, attributes, agreement.
"""
