{{/* The chart name, shortened to a DNS label. */}}
{{- define "prizm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every resource name: fullnameOverride, else <release>-<chart> (once). */}}
{{- define "prizm.fullname" -}}
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

{{- define "prizm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource besides its selector labels. */}}
{{- define "prizm.commonLabels" -}}
helm.sh/chart: {{ include "prizm.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: prizm
{{- end }}

{{/* Labels of a resource that belongs to the release as a whole. */}}
{{- define "prizm.labels" -}}
{{ include "prizm.commonLabels" . }}
{{ include "prizm.selectorLabels" . }}
{{- end }}

{{/* Selector labels shared by the router and the providers. */}}
{{- define "prizm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "prizm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The router's selector labels. */}}
{{- define "prizm.routerSelectorLabels" -}}
{{ include "prizm.selectorLabels" . }}
app.kubernetes.io/component: router
{{- end }}

{{/* One provider's selector labels; call with (dict "root" $ "name" NAME). */}}
{{- define "prizm.providerSelectorLabels" -}}
{{ include "prizm.selectorLabels" .root }}
app.kubernetes.io/component: provider
prizm.dev/provider: {{ .name }}
{{- end }}

{{/* One provider's resource name (also its headless Service, the DNS name the router resolves). */}}
{{- define "prizm.providerName" -}}
{{- printf "%s-%s" (include "prizm.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* An image reference from {repository, tag}; the tag defaults to the chart's appVersion. */}}
{{- define "prizm.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* A provider's settings: providerDefaults overridden key by key by its own entry. */}}
{{- define "prizm.providerSpec" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.providerDefaults) (deepCopy .spec)) }}
{{- end }}

{{/* How long a provider drains on SIGTERM: its graceSeconds, else the router's drain_s. */}}
{{- define "prizm.providerGrace" -}}
{{- .spec.graceSeconds | default .root.Values.router.config.drain_s | ceil | int }}
{{- end }}

{{/* Environment variables: plain ones from `env`, keys from existing Secrets via `secretEnv`. */}}
{{- define "prizm.env" -}}
{{- range $name, $value := .env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $ref := .secretEnv }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
{{- end }}
{{- end }}

{{/* The preStop hook every Prizm container gets. */}}
{{- define "prizm.lifecycle" -}}
preStop:
  sleep:
    seconds: {{ .Values.termination.preStopSleepSeconds }}
{{- end }}

{{/* The /tmp emptyDir that a read-only root filesystem needs. */}}
{{- define "prizm.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end }}

{{- /* A probe of the router: the kubelet's gRPC probe, or `prizm health-probe` over TLS. */ -}}
{{- define "prizm.routerProbe" -}}
{{- $root := .root -}}
{{- $tls := $root.Values.tls -}}
{{- if $tls.enabled -}}
exec:
  command:
    - prizm
    - health-probe
    - 127.0.0.1:{{ $root.Values.router.port }}
    {{- with .service }}
    - {{ . }}
    {{- end }}
    - --ca
    - /etc/prizm-tls/ca.crt
    - --server-name
    - {{ $tls.serverName }}
    {{- if $tls.requireClientCerts }}
    - --cert
    - /etc/prizm-tls/tls.crt
    - --key
    - /etc/prizm-tls/tls.key
    {{- end }}
{{- else -}}
grpc:
  port: {{ $root.Values.router.port }}
  {{- with .service }}
  service: {{ . }}
  {{- end }}
{{- end -}}
{{- end }}
