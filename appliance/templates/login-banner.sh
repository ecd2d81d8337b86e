# SLM-Copilot login banner (written by the appliance's bootstrap step)
if [ -r '{{REPORT}}' ]; then
  echo "SLM-Copilot: $(grep -m1 '^endpoint = ' '{{REPORT}}' | cut -d' ' -f3)  model $(grep -m1 '^model_id = ' '{{REPORT}}' | cut -d' ' -f3)"
  echo "  local-ai: $(systemctl is-active local-ai.service)  nginx: $(systemctl is-active nginx.service)  credentials: {{REPORT}}"
fi
