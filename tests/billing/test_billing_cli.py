"""flask billing send-reminders: the cron path for deployments without a worker."""


def test_send_reminders_reports_per_project_and_refuses_an_unknown_one(app, runner, make_tenant):
    tenant = make_tenant(name='催缴小区')
    result = runner.invoke(args=['billing', 'send-reminders', '--tenant', tenant.slug, '--date', '2026-10-08'])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f'{tenant.slug}: ')
    again = runner.invoke(args=['billing', 'send-reminders', '--tenant', 'no-such-project'])
    assert again.exit_code == 1 and 'no-such-project' in again.output
