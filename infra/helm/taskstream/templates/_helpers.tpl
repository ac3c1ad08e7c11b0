{{/* Chart name and release-scoped names. */}}
{{- define "taskstream.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "taskstream.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels shared by everything the chart renders. */}}
{{- define "taskstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: taskstream
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one service; call with (dict "root" $ "name" $name). */}}
{{- define "taskstream.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "taskstream.serviceLabels" -}}
{{ include "taskstream.labels" .root }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .svc.component }}
{{- end -}}

{{/* Resource name of one service: <fullname>-<service>. */}}
{{- define "taskstream.serviceName" -}}
{{- printf "%s-%s" (include "taskstream.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <registry>/<prefix><image>@<digest> when the release pins a digest (CI deploys that way:
     the image that was scanned and signed), else <registry>/<prefix><image>:<tag>. */}}
{{- define "taskstream.image" -}}
{{- $repo := printf "%s/%s%s" .root.Values.image.registry .root.Values.image.prefix .svc.image -}}
{{- $digest := get (.root.Values.image.digests | default dict) .svc.image -}}
{{- if $digest -}}
{{- printf "%s@%s" $repo $digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level securityContext meeting the Pod Security "restricted" profile. No uid or gid here:
they would apply to the injected daprd too, which exits unless it runs as its image's user
65532:65532 (seen on a real cluster); the app containers name theirs (taskstream.appUser). */}}
{{- define "taskstream.podSecurityContext" -}}
runAsNonRoot: true
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The uid and gid of the project's containers (the images' own user). */}}
{{- define "taskstream.appUser" -}}
runAsUser: 10001
runAsGroup: 10001
{{- end -}}

{{- define "taskstream.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ not .Values.devMode }}
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment every Taskstream container gets: the ConfigMap plus secret references. */}}
{{- define "taskstream.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "taskstream.fullname" . }}-config
env:
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.app }}
        key: database-url
  - name: TASKSTREAM_JWT_SECRET
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.app }}
        key: jwt-secret
  # Signs audit chain heads and retention checkpoints; derived from the JWT key when absent.
  - name: TASKSTREAM_AUDIT_KEY
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.app }}
        key: audit-signing-key
        optional: true
  # Web Push's VAPID key (base64url P-256 private scalar); the PUSH channel is off when absent.
  - name: TASKSTREAM_VAPID_PRIVATE_KEY
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.app }}
        key: vapid-private-key
        optional: true
  - name: TASKSTREAM_SMTP_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.app }}
        key: smtp-url
        optional: true
  # Dapr API tokens, both directions: the app sends DAPR_API_TOKEN to its sidecar and accepts
  # only calls carrying APP_API_TOKEN (the same Secrets the sidecar gets by annotation).
  - name: DAPR_API_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.daprApiToken }}
        key: token
  - name: APP_API_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.daprAppToken }}
        key: token
{{- end -}}

{{/* The topics a service subscribes to. */}}
{{- define "taskstream.enabledServices" -}}
{{- range $name, $svc := .Values.services }}{{ if $svc.enabled }}{{ $name }} {{ end }}{{ end -}}
{{- end -}}

{{/* Where the Dapr sidecars send spans (OTLP/gRPC host:port): the chart's collector when it is
     on, else dapr.tracing.otlp.endpointAddress (possibly empty: no OTLP export). */}}
{{- define "taskstream.daprOtlpEndpoint" -}}
{{- if .Values.tracing.collector.enabled -}}
{{- printf "%s-otel-collector.%s.svc:4317" (include "taskstream.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.dapr.tracing.otlp.endpointAddress -}}
{{- end -}}
{{- end -}}

{{/* The services' OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP base URL; the app appends
     /v1/traces): the chart's collector when it is on, else tracing.otlpEndpoint. */}}
{{- define "taskstream.appOtlpEndpoint" -}}
{{- if .Values.tracing.collector.enabled -}}
{{- printf "http://%s-otel-collector.%s.svc:4318" (include "taskstream.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.tracing.otlpEndpoint -}}
{{- end -}}
{{- end -}}
