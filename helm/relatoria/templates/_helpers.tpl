{{/* Names, labels and the pieces every pod shares. */}}

{{- define "relatoria.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects; component suffixes (-bff, -worker-interactive, ...)
are appended to it, so it is cut to leave room for the longest one.
*/}}
{{- define "relatoria.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 42 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "relatoria.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: pass (dict "root" $ "component" "bff"). */}}
{{- define "relatoria.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relatoria.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Standard labels of one component: pass (dict "root" $ "component" "bff"). */}}
{{- define "relatoria.labels" -}}
helm.sh/chart: {{ include "relatoria.chart" .root }}
{{ include "relatoria.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: relatoria
{{- end }}

{{- define "relatoria.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "relatoria.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the RELATORIA_* secrets: existingSecret, else the chart's own. */}}
{{- define "relatoria.secretName" -}}
{{- default (include "relatoria.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The hook Secret the migrations Job reads on install (before the release's Secret). */}}
{{- define "relatoria.migrationsSecretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "relatoria.fullname" .) }}
{{- end }}
{{- end }}

{{/* An image reference: pass (dict "root" $ "image" .Values.bff.image). */}}
{{- define "relatoria.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- if .root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* Annotations that roll the pods when the configuration or the secrets change. */}}
{{- define "relatoria.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{/* envFrom of the app containers: the ConfigMap, then the Secret. */}}
{{- define "relatoria.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "relatoria.fullname" . }}
  - secretRef:
      name: {{ include "relatoria.secretName" . }}
{{- end }}

{{/* Spread a component's pods across nodes: pass (dict "root" $ "component" "bff"). */}}
{{- define "relatoria.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "relatoria.selectorLabels" . | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
{{- end }}

{{/*
The margin added to a worker's shutdownGraceSeconds to get its pod's
terminationGracePeriodSeconds: time to hand unfinished jobs back and close connections.
*/}}
{{- define "relatoria.workerShutdownMargin" -}}
15
{{- end }}

{{/*
The egress rules of every NetworkPolicy: none (egress open) unless networkPolicy.egress
lists some, and then DNS on port 53 to anywhere first, since nothing resolves a service
name (database, broker, S3, STS for IRSA) without it, whatever DNS the cluster runs.
*/}}
{{- define "relatoria.egress" -}}
{{- with .Values.networkPolicy.egress }}
egress:
  - ports:
      - port: 53
        protocol: UDP
      - port: 53
        protocol: TCP
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
