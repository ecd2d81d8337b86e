# A stand-in for marketplace-community's lib/community/app_handler.rb and the parts of its clitester
# (VM#ssh, SafeExec) that certification specs use, for the lab VM instead of an OpenNebula front-end:
# `include_context('vm_handler')` gives @info[:vm], whose ssh(cmd) runs cmd in the VM and returns an
# object with status/exitstatus, stdout, stderr, success?, fail?, expect_success and expect_fail.
#
# What it keeps from the real harness, because a spec that passes here must pass there:
# - the command goes through the front-end's shell as `ssh OPTS root@IP "CMD"` (Open3 with one string),
#   so a spec's `"`, `$` or backtick is expanded by that shell, not by the VM's;
# - ssh(cmd, _stderr = false, options = {}, user = 'root', xpath_ip = ''), options[:timeout] in
#   seconds (none when absent, as in SafeExec), one try;
# - metadata.yaml beside the spec's directory is loaded and must carry what app_handler reads.
# The VM is not created or terminated here: the lab (scripts/lab.sh) owns it. LAB_SSH_PORT and
# LAB_SSH_KEY (from `scripts/lab.sh env`) say how to reach it.
require 'open3'
require 'rspec'
require 'timeout'
require 'yaml'

module CLITester
    # The VM's answer to one command, as clitester's SafeExec returns it.
    class SafeExec

        include RSpec::Matchers

        # What is kept of each stream; the rest is read and dropped so the command never blocks on a full pipe.
        MAX_STREAM_BYTES = 4 * 1024 * 1024

        attr_reader :status, :stdout, :stderr

        def self.run(cmd, timeout = nil, try = 1, quiet = false)
            e = new(cmd, timeout, quiet)
            while !e.success? && try > 0
                e.run!
                try -= 1
                !e.success? && try > 0 && sleep(1)
            end
            e
        end

        def initialize(cmd, timeout = nil, quiet = false)
            @cmd = cmd
            @timeout = timeout
            @quiet = quiet
            @status = nil
            @stdout = nil
            @stderr = nil
        end

        def run!
            # Its own process group: a timeout kills the shell and the ssh it started.
            stdin, out, err, wait_thr = Open3.popen3(@cmd, pgroup: true)
            stdin.close
            readers = [Thread.new { bounded_read(out) }, Thread.new { bounded_read(err) }]
            begin
                Timeout.timeout(@timeout) { @status = wait_thr.value.exitstatus }
                @stdout, @stderr = readers.map(&:value)
            rescue Timeout::Error
                Process.kill('KILL', -wait_thr.pid)
                wait_thr.value
                readers.each(&:kill)
                # As in SafeExec: no stdout at all after a timeout.
                @status = -1
                @stdout = nil
                @stderr = "Timeout Reached for: '#{@cmd}'"
            end
            STDERR.puts @stderr if fail? && !@stderr.empty? && !@quiet
        end

        def success?
            @status == 0
        end

        def fail?
            !success?
        end

        def exitstatus
            @status
        end

        def expect_success
            expect(success?).to be(true), "Expected success for: #{@cmd}\n#{@stderr}"
        end

        def expect_fail
            expect(fail?).to be(true), "Expected fail for: #{@cmd}\n#{@stderr}"
        end

        private

        def bounded_read(io)
            kept = io.read(MAX_STREAM_BYTES) || ''
            nil while io.read(65_536)
            io.close
            kept
        end

    end

    # The lab VM, reached through the SSH port QEMU forwards to 127.0.0.1.
    class VM

        attr_reader :id, :ip

        def initialize(ssh_port, ssh_key)
            @id = 'lab'
            @ip = '127.0.0.1'
            @ssh_opts = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR " \
                        "-o BatchMode=yes -o ConnectTimeout=5 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 " \
                        "-p #{ssh_port} -i #{ssh_key}"
        end

        # rubocop:disable Metrics/ParameterLists
        def ssh(cmd, _stderr = false, options = {}, user = 'root', _xpath_ip = '')
            SafeExec.run("ssh #{@ssh_opts} #{user}@#{@ip} \"#{cmd}\"", options[:timeout], 1, options[:quiet])
        end
        # rubocop:enable Metrics/ParameterLists

        def info
            self
        end

    end
end

include CLITester # rubocop:disable Style/MixinUsage -- the real init.rb puts VM and SafeExec at the top level too

def slmc_lab_metadata(spec_file)
    path = File.join(File.dirname(spec_file), '..', 'metadata.yaml')
    config = YAML.safe_load_file(path, permitted_classes: [Symbol])
    # What app_handler dereferences (a missing one is a NoMethodError there); [:one][:template][:NAME] is
    # not among them: under that symbol key it is absent in every metadata.yaml ("NAME:" is a string key)
    # and the harness falls back to its 'base' template.
    missing = [%i[app name], %i[app os type], %i[app os base], %i[app hypervisor], %i[app context params],
               %i[one template]].reject { |keys| config.dig(*keys) }
    raise "#{path} lacks #{missing.map { |k| k.join('.') }.join(', ')}: app_handler reads them" unless missing.empty?

    config
end

SLMC_LAB_METADATA = slmc_lab_metadata(caller_locations.first.absolute_path)
APP_IMAGE_NAME = SLMC_LAB_METADATA[:app][:name]
APP_CONTEXT_PARAMS = SLMC_LAB_METADATA[:app][:context][:params]
VM_TEMPLATE = SLMC_LAB_METADATA[:one][:template][:NAME] || 'base'

RSpec.shared_context 'vm_handler' do
    before(:all) do
        port = ENV.fetch('LAB_SSH_PORT') { raise 'LAB_SSH_PORT is not set: take it from `scripts/lab.sh env`' }
        key = ENV.fetch('LAB_SSH_KEY') { raise 'LAB_SSH_KEY is not set: take it from `scripts/lab.sh env`' }
        raise "LAB_SSH_PORT must be a port number, not #{port.inspect}" unless port.match?(/\A\d{1,5}\z/)
        raise "LAB_SSH_KEY #{key} is not a readable file" unless File.readable?(key)

        @info = {} # Used to pass info across tests, as in the real app_handler
        @info[:vm] = VM.new(port, key)
        @info[:vm].info
    end
end
