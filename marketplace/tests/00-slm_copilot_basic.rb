require_relative '../../../lib/community/app_handler' # Loads the library to handle VM creation and destruction

require 'base64'
require 'json'

# SLM-Copilot certification: what a certification run can see from inside the appliance VM once it is
# deployed. Every check runs in the VM through @info[:vm].ssh and reaches nginx on 127.0.0.1, so it
# needs no route from the front-end to the VM's HTTP ports.
#
# Deploy budget: the harness instantiates its generic 'base' template (not our 16 vCPU / 32 GB) and
# starts the examples once the VM answers SSH; the appliance then still configures itself and loads the
# model. The first example waits for bootstrap_success at most READY_BUDGET_S: the appliance's own limit
# for the model to load (1800 s, after which it reports bootstrap_failure itself) plus 300 s for
# configure. A *_failure status ends the wait at once.

# Constants of this file (a constant assigned inside a describe block would land on Object).
module SlmCopilot
    READY_BUDGET_S = 2100
    POLL_S = 5
    # Consecutive SSH failures tolerated while waiting (the harness saw SSH work before the examples).
    SSH_FAILURES_TOLERATED = 3
    MODEL_ID = 'devstral-small-2'

    # The API user and password come from the appliance's report and stay inside the VM: curl reads them
    # from a config given through a file descriptor, never from its command line.
    CREDENTIALS = <<~'SH'
        report=/etc/one-appliance/config
        user="$(sed -n 's/^api_username = //p' "$report")"
        password="$(sed -n 's/^api_password = //p' "$report")"
        [ -n "$user" ] && [ -n "$password" ] || { echo "no api_username/api_password in $report" >&2; exit 3; }
        basic() { printf 'user = "%s:%s"\n' "$user" "$password"; }
        bearer() { printf 'header = "Authorization: Bearer %s"\n' "$password"; }
    SH
end

describe 'SLM-Copilot appliance certification' do
    # This is a library that takes care of creating and destroying the VM for you
    # The VM is instantiated with your APP_CONTEXT_PARAMS passed
    include_context('vm_handler')

    # The harness hands a command to the front-end's shell inside double quotes, where a script's own
    # quotes, $ and backticks would be expanded. So each script travels base64-encoded, runs under
    # `timeout` in the VM, and reads nothing from the stdin it was sent on.
    def in_vm(script, budget_s = 60)
        encoded = Base64.strict_encode64("{\n#{script}\n} </dev/null\n")
        @info[:vm].ssh("echo #{encoded} | base64 -d | timeout #{budget_s} bash", false,
                       { :timeout => budget_s + 30 })
    end

    # What a script printed for a value, for a failure message: the value, or why there is none.
    def seen(value, execution)
        return "#{value} (no HTTP answer)" if value == '000'
        return value if value && !value.empty?

        "nothing (the command exited #{execution.exitstatus}: #{execution.stderr.to_s.strip[0, 200]})"
    end

    # Lines of `key value` printed by a script, as a Hash.
    def fields(execution)
        execution.stdout.to_s.lines.map { |line| line.chomp.split(' ', 2) }.select { |pair| pair.size == 2 }.to_h
    end

    it 'reaches bootstrap_success within the deploy budget' do
        # The status file survives reboots: only a finished one-context run of this boot makes it current.
        status_script = <<~'SH'
            if [ -e /run/one-context/context.sh.network ] && [ ! -e /run/one-context/one-context.lock ]; then
                cat /etc/one-appliance/status 2>/dev/null || echo status_missing
            else
                echo context_pending
            fi
        SH
        started = Time.now
        status = ''
        ssh_failures = 0
        loop do
            execution = in_vm(status_script, 30)
            if execution.success?
                ssh_failures = 0
                status = execution.stdout.strip
                break if status == 'bootstrap_success'

                if status.end_with?('_failure')
                    log = in_vm('tail -n 20 /var/log/one-appliance/slm-copilot.log', 30).stdout
                    raise "the appliance reported #{status} after #{(Time.now - started).round} s; " \
                          "/var/log/one-appliance/slm-copilot.log ends with:\n#{log}"
                end
            else
                ssh_failures += 1
                if ssh_failures >= SlmCopilot::SSH_FAILURES_TOLERATED
                    raise "SSH into the VM failed #{ssh_failures} times in a row (exit #{execution.exitstatus}): " \
                          "#{execution.stderr.strip}"
                end
            end
            if Time.now - started > SlmCopilot::READY_BUDGET_S
                raise "no bootstrap_success within #{SlmCopilot::READY_BUDGET_S} s (last status: #{status.empty? ? 'none' : status})"
            end

            sleep SlmCopilot::POLL_S
        end
        puts "bootstrap_success after #{(Time.now - started).round} s of waiting"
        motd = in_vm('cat /etc/motd')
        expect(motd.stdout).to include('All set and ready to serve'),
                               'one-apps did not write its ready banner to /etc/motd'
    end

    it 'runs local-ai and nginx as enabled, active services' do
        execution = in_vm(<<~'SH')
            for unit in local-ai.service nginx.service; do
                echo "$unit $(systemctl is-active "$unit") $(systemctl is-enabled "$unit")"
            done
        SH
        states = fields(execution)
        ['local-ai.service', 'nginx.service'].each do |unit|
            expect(states[unit]).to eq('active enabled'),
                                    "#{unit} is #{seen(states[unit], execution)} (want: active enabled): " \
                                    "see journalctl -u #{unit}"
        end
    end

    it 'listens publicly on 443 and 80, and the engine on 127.0.0.1:8080 only' do
        execution = in_vm('ss -ltnH')
        execution.expect_success
        listeners = execution.stdout.lines.map { |line| line.split[3] }.compact.map do |local|
            address, _, port = local.rpartition(':')
            [address, port]
        end
        everywhere = ['0.0.0.0', '*', '[::]']
        ['443', '80'].each do |port|
            addresses = listeners.select { |_, p| p == port }.map(&:first)
            expect(addresses & everywhere).not_to be_empty,
                                                  "nothing listens on all addresses on port #{port} " \
                                                  "(listeners: #{addresses.empty? ? 'none' : addresses.join(', ')}): " \
                                                  'is nginx running?'
        end
        engine = listeners.select { |_, p| p == '8080' }.map(&:first)
        expect(engine).not_to be_empty, 'nothing listens on port 8080: is local-ai running?'
        expect(engine.uniq).to eq(['127.0.0.1']),
                               "the engine listens on #{engine.join(', ')}:8080; it must listen on 127.0.0.1 only"
    end

    it 'answers /health with 200 and no credentials' do
        execution = in_vm(<<~'SH')
            body="$(curl -sk --max-time 15 -w '\n%{http_code}' https://127.0.0.1/health)"
            echo "code ${body##*$'\n'}"
            echo "body ${body%$'\n'*}"
        SH
        answer = fields(execution)
        expect(answer['code']).to eq('200'),
                                  "GET https://127.0.0.1/health without credentials answered #{seen(answer['code'], execution)}, want 200"
        expect(answer['body']).to include('"status":"ready"')
    end

    it 'redirects HTTP on port 80 to HTTPS' do
        execution = in_vm(<<~'SH')
            curl -s --max-time 15 -o /dev/null -w 'code %{http_code}\nlocation %{redirect_url}\n' http://127.0.0.1/v1/models
        SH
        answer = fields(execution)
        expect(answer['code']).to eq('301'), "http://127.0.0.1/v1/models answered #{seen(answer['code'], execution)}, want 301"
        expect(answer['location']).to start_with('https://')
    end

    it 'refuses the API without valid credentials (401)' do
        execution = in_vm(<<~'SH')
            models=https://127.0.0.1/v1/models
            echo "none $(curl -sk --max-time 15 -o /dev/null -w '%{http_code}' "$models")"
            echo "wrong_basic $(curl -sk --max-time 15 -o /dev/null -w '%{http_code}' -u copilot:not-the-password "$models")"
            echo "wrong_bearer $(curl -sk --max-time 15 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer not-the-password' "$models")"
        SH
        codes = fields(execution)
        { 'none' => 'no credentials', 'wrong_basic' => 'a wrong Basic password',
          'wrong_bearer' => 'a wrong Bearer token' }.each do |key, what|
            expect(codes[key]).to eq('401'), "GET /v1/models with #{what} answered #{seen(codes[key], execution)}, want 401"
        end
    end

    it 'accepts the password from the report, as Basic and as Bearer' do
        execution = in_vm(SlmCopilot::CREDENTIALS + <<~'SH')
            models=https://127.0.0.1/v1/models
            echo "basic $(curl -sk --max-time 15 -o /dev/null -w '%{http_code}' -K <(basic) "$models")"
            echo "bearer $(curl -sk --max-time 15 -o /tmp/slmc-cert-models.json -w '%{http_code}' -K <(bearer) "$models")"
            echo "models $(tr -d '\n' </tmp/slmc-cert-models.json)"
            rm -f /tmp/slmc-cert-models.json
        SH
        answer = fields(execution)
        expect(answer['basic']).to eq('200'),
                                   "GET /v1/models with the report's user and password (Basic) answered " \
                                   "#{seen(answer['basic'], execution)}, want 200"
        expect(answer['bearer']).to eq('200'),
                                    "GET /v1/models with the report's password as Bearer token answered " \
                                    "#{seen(answer['bearer'], execution)}, want 200"
        ids = (JSON.parse(answer['models'] || '{}')['data'] || []).map { |model| model['id'] }
        expect(ids).to include(SlmCopilot::MODEL_ID)
    end

    it 'completes a small chat through nginx' do
        execution = in_vm(SlmCopilot::CREDENTIALS + <<~'SH', 300)
            body='{"model":"devstral-small-2","messages":[{"role":"user","content":"Reply with one word: ready."}],"max_tokens":8,"stream":false}'
            curl -sk --max-time 270 -o /tmp/slmc-cert-chat.json -w 'code %{http_code}\n' -K <(bearer) \
                -H 'Content-Type: application/json' -d "$body" https://127.0.0.1/v1/chat/completions
            echo "json $(head -c 65536 /tmp/slmc-cert-chat.json | tr -d '\n')"
            rm -f /tmp/slmc-cert-chat.json
        SH
        answer = fields(execution)
        expect(answer['code']).to eq('200'),
                                  "POST /v1/chat/completions answered #{seen(answer['code'], execution)}, " \
                                  "want 200: #{answer['json'].to_s[0, 300]}"
        reply = JSON.parse(answer['json'])
        content = reply.dig('choices', 0, 'message', 'content')
        expect(content).to be_a(String)
        expect(content.strip).not_to be_empty, 'the completion has no content'
        expect(reply.dig('usage', 'completion_tokens').to_i).to be_between(1, 8)
    end

    it 'writes the report with the connection details, readable by root only' do
        # The password is not printed: only whether the report carries one.
        execution = in_vm(<<~'SH')
            report=/etc/one-appliance/config
            echo "stat $(stat -c '%a %U' "$report")"
            grep -E '^(endpoint|api_base_url|api_username|model_id|sha256_fingerprint|local-ai|nginx) = ' "$report" |
                sed 's/ = / /'
            grep -qE '^api_password = [^ ]{8,}$' "$report" && echo "api_password set"
            grep -A1 -F '[Configuration errors]' "$report" | tail -n 1 | sed 's/^/errors /'
            served="$(openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null |
                openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)"
            echo "served_fingerprint ${served:-none}"
        SH
        report = fields(execution)
        expect(report['stat']).to eq('600 root'),
                                  "/etc/one-appliance/config is mode/owner #{seen(report['stat'], execution)}; " \
                                  'it holds the password: chmod 600, owned by root'
        expect(report['endpoint']).to match(%r{\Ahttps://\S+\z})
        expect(report['api_base_url']).to eq("#{report['endpoint']}/v1")
        expect(report['api_username']).to eq('copilot')
        expect(report['api_password']).to eq('set'), 'the report has no api_password of at least 8 characters'
        expect(report['model_id']).to eq(SlmCopilot::MODEL_ID)
        expect(report['sha256_fingerprint']).to eq(report['served_fingerprint']),
                                                "the report's sha256_fingerprint is not the certificate served on " \
                                                "127.0.0.1:443 (#{report['served_fingerprint']})"
        expect(report['local-ai']).to eq('active')
        expect(report['nginx']).to eq('active')
        expect(report['errors']).to eq('none = true'),
                                    "the report lists configuration errors: #{report['errors']}"
    end
end
