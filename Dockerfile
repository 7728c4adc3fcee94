# The seckill API, outbox relay and inventory consumer in one container (serve --role all), for docker-compose.yml.
FROM node:20-bookworm-slim

# Prisma's CLI probes for OpenSSL to pick its engine build; without it migrate deploy warns and may guess wrong.
RUN apt-get update \
  && apt-get install -y --no-install-recommends openssl ca-certificates \
  && rm -rf /var/lib/apt/lists/*

RUN mkdir /app && chown node:node /app
WORKDIR /app
USER node

# Dependencies first, so editing the source does not reinstall them.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY --chown=node:node . .
# The generated client is not committed (src/generated is ignored); build it for this image.
RUN npx prisma generate

ENV HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000

HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

# Migrations run at every start (deploy is idempotent); exec so the server, not sh, receives SIGTERM.
CMD ["sh", "-c", "npx prisma migrate deploy && exec node_modules/.bin/tsx src/main.ts serve --role all"]
