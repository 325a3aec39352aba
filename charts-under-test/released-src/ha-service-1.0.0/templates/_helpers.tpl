{{- define "ha-service.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; the release name alone when it already contains the chart name. */}}
{{- define "ha-service.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "ha-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ha-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels of every object except the component, which tells the pods from the migration Job. */}}
{{- define "ha-service.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ha-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ha-service.labels" -}}
{{ include "ha-service.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "ha-service.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Long enough for the preStop sleep, then the in-flight requests, then some slack. */}}
{{- define "ha-service.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- add (int $s.preStopSeconds) (int $s.timeoutSeconds) (int $s.headroomSeconds) }}
{{- end }}

{{- define "ha-service.databaseSecret" -}}
{{- .Values.database.existingSecret | default (printf "%s-db" (include "ha-service.fullname" .)) }}
{{- end }}

{{/* DATABASE_URL from the existing Secret; shared by the pods and the migration Job. */}}
{{- define "ha-service.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ha-service.databaseSecret" . }}
      key: {{ .Values.database.existingSecretKey }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end }}
