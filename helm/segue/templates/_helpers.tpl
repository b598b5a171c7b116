{{/* Chart name, truncated to 63 characters (the DNS label limit). */}}
{{- define "segue.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name alone when it already contains the chart name.
Truncated to 63 characters because some Kubernetes name fields are limited to that.
*/}}
{{- define "segue.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
RayService name. KubeRay derives "<name>-serve-svc", "<name>-head-svc" and "<name>-<5 chars>"
(the RayCluster) from it, and those must still fit 63 characters: keep it to 40.
*/}}
{{- define "segue.rayServiceName" -}}
{{- include "segue.fullname" . | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* The Service KubeRay creates for Serve traffic (only ready pods with a Serve proxy). */}}
{{- define "segue.serveServiceName" -}}
{{- printf "%s-serve-svc" (include "segue.rayServiceName" .) }}
{{- end }}

{{/* A component-suffixed name, e.g. include "segue.componentName" (list . "otel-collector"). */}}
{{- define "segue.componentName" -}}
{{- $ctx := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "segue.fullname" $ctx | trunc (int (sub 62 (len $suffix)))) $suffix | replace "--" "-" }}
{{- end }}

{{- define "segue.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "segue.labels" -}}
helm.sh/chart: {{ include "segue.chart" . }}
{{ include "segue.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: segue
{{- end }}

{{/* Labels selectors use: stable across upgrades (no version in them). */}}
{{- define "segue.selectorLabels" -}}
app.kubernetes.io/name: {{ include "segue.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The image of Segue itself: the tag defaults to the chart's appVersion, and `latest` is refused. */}}
{{- define "segue.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: 'latest' is not allowed (it makes rollouts and rollbacks unreproducible); set an immutable version tag such as the chart's appVersion" }}
{{- end }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{- define "segue.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "segue.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding the admin token: an existing one, or the chart's (from adminToken.value,
or generated once and kept across upgrades). */}}
{{- define "segue.adminSecretName" -}}
{{- if .Values.adminToken.existingSecret }}
{{- .Values.adminToken.existingSecret }}
{{- else }}
{{- include "segue.componentName" (list . "admin") }}
{{- end }}
{{- end }}

{{/* Secret with the store's database password: an existing one, or the demo database's. */}}
{{- define "segue.databaseSecretName" -}}
{{- if .Values.database.existingSecret }}{{ .Values.database.existingSecret }}{{ else }}{{ include "segue.componentName" (list . "postgresql") }}{{ end }}
{{- end }}

{{- define "segue.adminSecretKey" -}}
{{- if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{- define "segue.collectorName" -}}
{{- include "segue.componentName" (list . "otel-collector") }}
{{- end }}

{{/* OTLP/HTTP endpoint the Ray processes export to; empty when tracing is off. */}}
{{- define "segue.otlpEndpoint" -}}
{{- if .Values.tracing.enabled }}
{{- if .Values.tracing.otlpEndpoint }}
{{- .Values.tracing.otlpEndpoint }}
{{- else if .Values.otelCollector.enabled }}
{{- /* Same namespace: a bare Service name keeps the manifests movable (kustomize namespace). */}}
{{- printf "http://%s:4318" (include "segue.collectorName" .) }}
{{- else }}
{{- fail "tracing.enabled is true but there is nowhere to send spans: set otelCollector.enabled=true or tracing.otlpEndpoint=http://your-collector:4318 (or tracing.enabled=false)" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Environment of every Ray container: tracing (read where Ray starts) and the admin token. */}}
{{- define "segue.rayEnv" -}}
- name: SEGUE_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "segue.adminSecretName" . }}
      key: {{ include "segue.adminSecretKey" . }}
- name: HF_HUB_OFFLINE
  value: "1"
- name: TRANSFORMERS_OFFLINE
  value: "1"
{{- if or .Values.database.existingSecret .Values.postgresql.enabled }}
- name: {{ .Values.app.store.postgres.password_env | default "SEGUE_DB_PASSWORD" }}
  valueFrom:
    secretKeyRef:
      name: {{ include "segue.databaseSecretName" . }}
      key: {{ .Values.database.existingSecretKey }}
{{- end }}
{{- if .Values.tracing.enabled }}
- name: RAY_SERVE_TRACING_EXPORTER_IMPORT_PATH
  value: {{ .Values.tracing.exporterImportPath | quote }}
- name: RAY_SERVE_TRACING_SAMPLING_RATIO
  value: {{ .Values.tracing.samplingRatio | toString | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ include "segue.otlpEndpoint" . | quote }}
- name: OTEL_SERVICE_NAME
  value: segue
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.version=%s,deployment.environment=%s" .Chart.AppVersion .Release.Namespace | quote }}
{{- end }}
{{- /* The edge guard in every Serve HTTP proxy (serving/edge/env.py): settings as JSON, and uvicorn
     told to trust no X-Forwarded-For itself (the Ingress checks app.security.trusted_proxies). */}}
- name: RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH
  value: serving.edge.proxy:middlewares
- name: SEGUE_EDGE_SETTINGS
  value: {{ dict "timeouts" .Values.serve.timeouts "limits" .Values.serve.limits "max_body_bytes" (.Values.app.security.max_body_bytes | default 16384) "shedding" (include "segue.edgeShedding" . | fromJson) | toJson | quote }}
- name: FORWARDED_ALLOW_IPS
  value: ""
{{- with .Values.ray.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Container security context of Segue's own containers. */}}
{{- define "segue.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/*
One Serve deployment's options, computed exactly as serving.config.DeploymentConfig.serve_options()
does (the k8s tests compare the two), so serveConfigV2 can change them in place.
Call with (list <Serve deployment name> <values of app.deployments.X>).
*/}}
{{- define "segue.serveDeployment" -}}
{{- $name := index . 0 }}
{{- $d := index . 1 | default dict }}
{{- $as := $d.autoscaling | default dict }}
{{- $res := $d.resources | default dict }}
name: {{ $name }}
autoscaling_config:
  min_replicas: {{ hasKey $as "min_replicas" | ternary $as.min_replicas 1 }}
  max_replicas: {{ $as.max_replicas | default 1 }}
  target_ongoing_requests: {{ $as.target_ongoing_requests | default 2.0 | float64 }}
  upscale_delay_s: {{ hasKey $as "upscale_delay_s" | ternary $as.upscale_delay_s 30.0 | float64 }}
  downscale_delay_s: {{ hasKey $as "downscale_delay_s" | ternary $as.downscale_delay_s 600.0 | float64 }}
  look_back_period_s: {{ $as.look_back_period_s | default 30.0 | float64 }}
  metrics_interval_s: {{ $as.metrics_interval_s | default 10.0 | float64 }}
ray_actor_options:
  num_cpus: {{ hasKey $res "num_cpus" | ternary $res.num_cpus 0.5 | float64 }}
  {{- if $res.num_gpus }}
  num_gpus: {{ $res.num_gpus | float64 }}
  {{- end }}
  {{- if $res.memory_mb }}
  memory: {{ mul (int64 $res.memory_mb) 1048576 }}
  {{- end }}
max_ongoing_requests: {{ $d.max_ongoing_requests | default 16 }}
max_queued_requests: {{ hasKey $d "max_queued_requests" | ternary $d.max_queued_requests 64 }}
graceful_shutdown_timeout_s: {{ hasKey $d "graceful_shutdown_timeout_s" | ternary $d.graceful_shutdown_timeout_s 10.0 | float64 }}
health_check_period_s: {{ $d.health_check_period_s | default 2.0 | float64 }}
{{- end }}

{{/* The Ray Serve config (serveConfigV2): one application built by serving.app:app_builder. */}}
{{- define "segue.serveConfig" -}}
{{- $deps := .Values.app.deployments | default dict }}
{{- $ingress := include "segue.serveDeployment" (list "Ingress" $deps.ingress) | fromYaml }}
{{- if .Values.experiment }}
{{- $_ := set $ingress "user_config" (dict "experiment" .Values.experiment) }}
{{- end }}
{{- /* OutcomeStore: exactly one replica, as serving/app.py builds it (feedback is validated against it). */}}
{{- $deployments := list
      $ingress
      (include "segue.serveDeployment" (list "IntentModel" $deps.intent) | fromYaml)
      (include "segue.serveDeployment" (list "Retriever" $deps.retriever) | fromYaml)
      (include "segue.serveDeployment" (list "Ranker" $deps.ranker) | fromYaml)
      (dict "name" "OutcomeStore" "num_replicas" 1 "ray_actor_options" (dict "num_cpus" 0.0) "health_check_period_s" 2.0) }}
{{- /* The experiment goes into args too: every deployment loads the component versions its arms name. */}}
{{- $args := deepCopy .Values.app }}
{{- if .Values.postgresql.enabled }}
{{- /* The demo database: the store points at it (user/db "segue", password from its Secret). */}}
{{- $store := deepCopy ($args.store | default dict) }}
{{- $pgcfg := deepCopy ($store.postgres | default dict) }}
{{- $_ := set $pgcfg "url" (printf "postgresql://segue@%s:5432/segue" (include "segue.componentName" (list . "postgresql"))) }}
{{- $_ := set $store "postgres" $pgcfg }}
{{- $_ := set $store "backend" "postgres" }}
{{- $_ := set $args "store" $store }}
{{- end }}
{{- if .Values.experiment }}
{{- $_ := set $args "experiment" .Values.experiment }}
{{- end }}
{{- /* Tracing itself is set in the pods' environment; only the console's trace link is an app arg. */}}
{{- if .Values.tracing.traceUiUrl }}
{{- $_ := set $args "telemetry" (dict "trace_ui_url" .Values.tracing.traceUiUrl) }}
{{- end }}
{{- $application := merge (dict
      "name" .Values.app.name
      "route_prefix" (.Values.app.route_prefix | default "/")
      "import_path" "serving.app:app_builder"
      "args" $args
      "deployments" $deployments) .Values.serve.extraApplicationOptions }}
{{- $config := dict
      "proxy_location" .Values.serve.proxyLocation
      "http_options" (dict "host" "0.0.0.0" "port" (int .Values.serve.port)
                           "request_timeout_s" .Values.serve.timeouts.request_s
                           "keep_alive_timeout_s" (int .Values.serve.timeouts.keep_alive_s))
      "applications" (list $application) }}
{{- toYaml $config }}
{{- end }}

{{/* Writable paths of a Ray container when its root filesystem is read-only. */}}
{{- define "segue.rayVolumeMounts" -}}
- {name: tmp, mountPath: /tmp}
- {name: dshm, mountPath: /dev/shm}
- {name: ray-home-cache, mountPath: /home/ray/.cache}
- {name: ray-home-ray, mountPath: /home/ray/.ray}
{{- end }}

{{- define "segue.rayVolumes" -}}
- name: tmp
  emptyDir: {sizeLimit: {{ .Values.ray.tmpSizeLimit }}}
- name: dshm
  emptyDir: {medium: Memory, sizeLimit: {{ .Values.ray.shmSizeLimit }}}
- name: ray-home-cache
  emptyDir: {sizeLimit: 4Gi}
- name: ray-home-ray
  emptyDir: {sizeLimit: 64Mi}
{{- end }}

{{/* Pod-level fields shared by the head and worker groups: call with (list $ <group values> <is head>). */}}
{{- define "segue.rayPodSpec" -}}
{{- $ := index . 0 }}
{{- $g := index . 1 }}
{{- $head := index . 2 }}
{{- if not $head }}
{{- /* The head keeps KubeRay's own ServiceAccount: its autoscaler sidecar needs the API rights
   KubeRay grants that account. Workers need no API access at all. */}}
serviceAccountName: {{ include "segue.serviceAccountName" $ }}
automountServiceAccountToken: false
{{- end }}
securityContext:
  {{- toYaml $.Values.ray.podSecurityContext | nindent 2 }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $g.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "segue.rayVolumes" $ | nindent 2 }}
{{- end }}

{{/* The proxy's shedding bound (serving/edge/shed.py), derived as AppConfig.edge_settings does:
     never tighter than every Ingress replica's own admission bound together. */}}
{{- define "segue.edgeShedding" -}}
{{- $a := .Values.app.admission -}}
{{- $ing := .Values.app.deployments.ingress -}}
{{- $perReplica := max 1 (min (int $a.max_in_flight) (sub (int $ing.max_ongoing_requests) 1)) -}}
{{- $prefix := trimSuffix "/" (.Values.app.route_prefix | default "/") -}}
{{- dict "enabled" $a.enabled "max_in_flight" (mul $perReplica (int $ing.autoscaling.max_replicas)) "min_in_flight" $a.min_in_flight "target_latency_s" $a.target_latency_s "retry_after_s" $a.retry_after_s "paths" (list (printf "%s/v1/playlists" $prefix) (printf "%s/v1/search" $prefix)) | toJson -}}
{{- end }}
