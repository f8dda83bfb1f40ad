// Every integration runs the same conformance suite (conformance.ts).
import { runIntegrationConformance } from './conformance.ts';
import { alertmanagerIntegration, pagerdutyIntegration, slackIntegration, webhookIntegration } from './notifier.ts';

runIntegrationConformance('webhook', (base) => webhookIntegration(`${base}/hooks/tidemark`), '/hooks/tidemark');
runIntegrationConformance('slack', (base) => slackIntegration(`${base}/services/T000/B000/XXXX`, '#alerts'), '/services/T000/B000/XXXX');
runIntegrationConformance('pagerduty', (base) => pagerdutyIntegration('R0123456789ABCDEF0123456789ABCDE', `${base}/v2/enqueue`), '/v2/enqueue');
runIntegrationConformance('alertmanager', (base) => alertmanagerIntegration(`${base}/`), '/api/v2/alerts');
