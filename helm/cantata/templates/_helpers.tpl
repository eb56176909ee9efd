{{- define "cantata.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cantata.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cantata.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cantata.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cantata.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cantata.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cantata.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cantata.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cantata.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cantata.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cantata.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "cantata.modelsClaim" -}}
{{- default (printf "%s-models" (include "cantata.fullname" .)) .Values.modelStorage.persistence.existingClaim }}
{{- end }}

{{- define "cantata.cacheClaim" -}}
{{- default (printf "%s-cache" (include "cantata.fullname" .)) .Values.cacheStorage.existingClaim }}
{{- end }}

{{/* The server's own settings (server/config.py): the values' `config`, plus what the chart
owns because it depends on ports, mounts and secrets. */}}
{{- define "cantata.serverConfig" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "host" "0.0.0.0" }}
{{- $_ := set $config "port" (int .Values.ports.grpc) }}
{{- $_ := set $config "metrics" (dict "enabled" true "host" "0.0.0.0" "port" (int .Values.ports.metrics)) }}
{{- if .Values.tls.enabled }}
{{- $tls := dict "cert_file" "/etc/cantata/tls/tls.crt" "key_file" "/etc/cantata/tls/tls.key" }}
{{- if .Values.tls.mutual }}
{{- $_ := set $tls "client_ca_file" "/etc/cantata/tls/ca.crt" }}
{{- end }}
{{- $_ := set $config "tls" $tls }}
{{- $_ := set $config "health_port" (int .Values.ports.health) }}
{{- end }}
{{- if .Values.apiKeys.enabled }}
{{- $_ := set $config "auth" (dict "api_keys_file" "/etc/cantata/auth/api-keys" "open_health" true "open_reflection" .Values.apiKeys.openReflection) }}
{{- end }}
{{- toYaml $config }}
{{- end }}
