// Notifications: receivers (webhook, Slack, PagerDuty Events v2, Alertmanager v2) with timeouts, retries and outcomes.
export { Notifier, integrationsOf, webhookIntegration, slackIntegration, pagerdutyIntegration, alertmanagerIntegration, DEFAULT_NOTIFY_TIMEOUT_MS, type DeliveryOutcome, type Integration, type IntegrationKind, type NotifierCounters, type NotifierOptions, type SendOptions } from './notifier.ts';
export { NotifyError, DeliveryStopped, postJson, withRetry, retryableStatus, redactUrl, DEFAULT_RETRY, type RetryPolicy, type RetryHooks } from './http.ts';
export { webhookBody, slackBody, pagerdutyBody, alertmanagerBody, alertLine, title, PAGERDUTY_EVENTS_URL } from './payloads.ts';
