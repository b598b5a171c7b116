"""The web console served by the Ingress: the playground (/ui) and experiment pages (/ui/experiments/{id})."""
